"""Building blocks every component shares, each decided once: outputs, tags, pod security, Pod Identity."""
