"""Container instances: long-running application containers (``az container`` shapes)."""
