"""This repository's own host of the upload app: sign-in (allauth), the JWT login API (simplejwt),
tokens from an external issuer (Cognito), and ending a user's tokens when their password changes."""
