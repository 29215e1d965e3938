"""The domain: what an upload is allowed to be and why it was refused (types, names, keys, reasons,
errors, destinations, S3 event parsing), pure functions over values, no I/O."""
