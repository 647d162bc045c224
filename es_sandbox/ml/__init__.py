"""Machine learning: trained models, deployments, inference (with a cost model)."""
