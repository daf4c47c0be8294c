"""Command-line entry points (`lcnet-train`, `lcnet-evaluate`)."""
