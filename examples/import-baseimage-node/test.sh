#!/bin/sh
# The gate: a failing exit code stops the import task before it pushes anything.
echo "Validating Image"
echo "NODE_VERSION: $NODE_VERSION"
echo "BACKGROUND_COLOR: $BACKGROUND_COLOR"
EXIT_CODE=0
if [ ""$(echo $BACKGROUND_COLOR | tr '[:lower:]' '[:upper:]') = 'RED' ]; then
    echo -e "\e[31mERROR: Invalid Color:\e[0m" ${BACKGROUND_COLOR}
    EXIT_CODE=1
else
  echo -e "\e[32mValidation Complete - No Known Errors\e[0m"
fi
exit ${EXIT_CODE}
