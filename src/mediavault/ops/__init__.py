"""Operations: metrics, structured logs, readiness and configuration checks."""
