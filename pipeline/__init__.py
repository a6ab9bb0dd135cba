"""Policy coverage pipeline: ingest, segment, tokenize, classify, aggregate, report."""
