"""DevOps Health: CI status, deployments, Spec Kit coverage and the DORA metrics from gold."""
