"""The Textual app: one module (and one .tcss) per screen, reusable widgets apart."""
