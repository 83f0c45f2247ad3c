-- Codes with a suspected-clone finding: the rules that fired, when, and the evidence.
SELECT
    code,
    groupArray(rule) AS rules,
    min(detected_at) AS first_detected,
    argMin(message, detected_at) AS first_finding,
    arrayDistinct(arrayFlatten(groupArray(evidence_event_ids))) AS evidence_event_ids
FROM alerts
WHERE kind = 'SUSPECTED_CLONE'
GROUP BY code
ORDER BY first_detected, code
