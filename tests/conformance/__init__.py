"""OCI Distribution Spec v1.1 conformance tests, run against Airlock and CNCF Distribution."""
