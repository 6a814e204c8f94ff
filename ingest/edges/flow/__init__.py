"""FLOWS_TO: feature flow between SAEs at successive layers (stage.py)."""
