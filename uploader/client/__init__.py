"""A reference command-line client of the public REST API, for mobile and script developers:
`python -m uploader.client login | upload FILE... | list | download ID`. It uses nothing but HTTP."""
