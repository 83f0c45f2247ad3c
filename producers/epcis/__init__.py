"""EPCIS 2.0 capture: EPCIS JSON / JSON-LD documents from carriers and 3PLs into carrier scans.

::

    from producers.epcis import InvalidDocumentError, capture

    try:
        result = capture(data, carrier="dhl-express")
    except InvalidDocumentError as error:
        for problem in error.problems:  # event index, eventID, field, rule, message
            ...
    result.records  # CarrierScan records (scans and retractions), document order
    result.summary  # events by type, scans, retractions, what was skipped and why

Publishing is the producer core's job. docs/epcis.md describes what is accepted and how events
map to scans.
"""

from producers.epcis.capture import Capture, CaptureSummary, capture
from producers.epcis.errors import InvalidDocumentError, Problem

__all__ = ["Capture", "CaptureSummary", "InvalidDocumentError", "Problem", "capture"]
