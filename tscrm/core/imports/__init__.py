"""Imports: reading CSV/XLSX files, mapping columns to fields, the batch pipeline, undo, Teamsale."""
