"""EPCIS 2.0 capture: EPCIS JSON / JSON-LD documents from carriers and 3PLs into carrier scans."""
