"""The gate: decides every manifest request, gates blobs, quarantines, audits."""
