"""The host project's example of an upload on its own model: a profile with an avatar and a
document, a form page, the admin and an API, built on uploader's UploadField as any project would."""
