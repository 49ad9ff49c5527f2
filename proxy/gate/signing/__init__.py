"""Signature enforcement: find an image's signatures through the mirror, verify them with
`proxy.signatures`, and turn the policy's signature requirements into a verdict."""
