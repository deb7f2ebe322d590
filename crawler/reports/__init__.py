"""What users read: tables for terminals and logs, and CSV / JSON Lines exports."""
