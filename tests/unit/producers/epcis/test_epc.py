import pytest

from producers.epcis.epc import Level, epc_uri_problem


@pytest.mark.parametrize(
    ("uri", "level"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", Level.INSTANCE),
        ("urn:epc:id:sscc:0614141.1234567890", Level.INSTANCE),
        ("urn:epc:id:sgln:0614141.07346.1234", Level.INSTANCE),
        ("urn:epc:id:pgln:4012345.00225", Level.INSTANCE),
        ("urn:epc:class:lgtin:4012345.012345.998877", Level.CLASS),
        ("urn:epc:idpat:sgtin:4012345.098765.*", Level.CLASS),
        # Not in the urn:epc: namespace: any URI may identify things in EPCIS 2.0.
        ("https://id.gs1.org/01/09521141012345/21/2017", Level.INSTANCE),
        ("urn:example:asset:77", Level.INSTANCE),
        # epcpy raises a bare ValueError on this valid escape; its grammar accepts it.
        ("urn:epc:id:sgln:0614141.07346.%3C:x", Level.INSTANCE),
    ],
)
def test_valid_identifiers_pass(uri: str, level: Level) -> None:
    assert epc_uri_problem(uri, level) is None


@pytest.mark.parametrize(
    ("uri", "level", "says"),
    [
        ("urn:epc:id:sgtin:061414.107346.2017", Level.INSTANCE, "13 digits"),
        ("urn:epc:id:sscc:0614141.12345", Level.INSTANCE, "Tag Data Standard"),
        ("urn:epc:id:bogus:1.2", Level.INSTANCE, "Unknown EPC URI"),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.6789", Level.INSTANCE, "urn:epc:id:"),
        ("urn:epc:class:lgtin:4012345.012345.998877", Level.INSTANCE, "urn:epc:id:"),
        ("urn:epc:id:sgtin:0614141.107346.2017", Level.CLASS, "urn:epc:class: or"),
        ("urn:epc:idpat:sgtin:4012345.*.1", Level.CLASS, "not a valid EPC pattern URI"),
    ],
)
def test_broken_epc_uris_say_why(uri: str, level: Level, says: str) -> None:
    problem = epc_uri_problem(uri, level)
    assert problem is not None and says in problem
