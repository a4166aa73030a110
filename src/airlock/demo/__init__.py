"""``airlock demo``: the seed walkthrough (gated import of a public base image, rebuild and
redeploy of the app on it) performed end to end against a real Airlock server.

Everything goes through the public surface a user has: the ``airlock`` CLI as a subprocess,
git, and HTTP to the deployed page. Nothing here imports the server.
"""
