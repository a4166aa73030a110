#!/bin/sh
# hello-world: one page whose background is the base image's $BACKGROUND_COLOR, served by
# busybox httpd on port 80. AIRLOCK_BASE_IMAGE_DIGEST is set by `airlock container create`
# (from the image's build annotations) when the image names the base it was built on.
mkdir -p /www
cat > /www/index.html <<PAGE
<!DOCTYPE html>
<html>
<head><title>Hello World</title></head>
<body style="background-color: ${BACKGROUND_COLOR:-White}; font-family: sans-serif">
<h1>Hello World</h1>
<p>Background color: <b id="background-color">${BACKGROUND_COLOR:-White}</b></p>
<p>Base image: <code id="base-image">${BASE_IMAGE:-unknown}</code> (node ${NODE_VERSION:-unknown})</p>
<p>Base image digest: <code id="base-image-digest">${AIRLOCK_BASE_IMAGE_DIGEST:-unknown}</code></p>
</body>
</html>
PAGE
exec httpd -f -p 80 -h /www
