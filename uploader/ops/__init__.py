"""Operating it: health probes, metrics, logs and their context, Sentry, drift repair and the
dead-letter queue."""
