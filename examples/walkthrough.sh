#!/usr/bin/env bash
# "How to consume and maintain public content with Azure Container Registry Tasks" (ACR's
# walkthrough of gated imports of public content), on Airlock: the walkthrough's commands in its
# order, with `az` changed to `airlock` and the Azure host names changed to the registries'
# login servers. Every other difference is marked `# Airlock:` and listed in
# docs/migrating-from-acr.md.
#
# Needs: a running Airlock server ($AIRLOCK_URL, else the default http://127.0.0.1:5080) that
# you own, `airlock` on PATH (or AIRLOCK=/path/to/airlock), podman, git, curl and a static
# busybox (/bin/busybox, Debian's busybox-static; or BUSYBOX=/path/to/it).
#
#   bash examples/walkthrough.sh
#
# It checks what the walkthrough says should happen (the page Blue, Orange, Orange after the
# switch to the gated registry, Green, still Green after the Red change that the gate stops)
# and exits non-zero otherwise. Work files go to $WORK (default: a new temporary folder).
set -euo pipefail

# Airlock: `airlock` runs $AIRLOCK when it is set (e.g. .venv/bin/airlock).
AIRLOCK=${AIRLOCK:-airlock}
airlock() { command "$AIRLOCK" "$@"; }
trap 'echo "walkthrough.sh: line $LINENO: a command failed (exit $?)" >&2' ERR

EXAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN_TIMEOUT=${RUN_TIMEOUT:-300}  # Airlock: how long wait_for_run waits, in seconds

section() { printf '\n## %s\n' "$*"; }

#### Set environment variables

# Set the three registry names, must be globally unique:
REGISTRY_PUBLIC=publicregistry
REGISTRY_BASE_ARTIFACTS=contosobaseartifacts
REGISTRY=contoso

# set the location all resources will be created in:
RESOURCE_GROUP_LOCATION=eastus  # Airlock: recorded only; everything runs on this machine

# default resource groups
REGISTRY_PUBLIC_RG=${REGISTRY_PUBLIC}-rg
REGISTRY_BASE_ARTIFACTS_RG=${REGISTRY_BASE_ARTIFACTS}-rg
REGISTRY_RG=${REGISTRY}-rg

# Airlock: no Docker Hub here; the registry `dockerhub` plays it (see "Docker Hub credentials").
REGISTRY_DOCKERHUB=dockerhub
REGISTRY_DOCKERHUB_RG=${REGISTRY_DOCKERHUB}-rg

# fully qualified registry urls
# Airlock: each registry has its own login server, 127.0.0.1:<port>, known once it is
# created: REGISTRY_DOCKERHUB_URL, REGISTRY_PUBLIC_URL, REGISTRY_BASE_ARTIFACTS_URL and
# REGISTRY_URL are set after `airlock acr create` below (`airlock acr show --query loginServer`).

# Azure key vault for storing secrets, name must be globally unique
AKV=acr-task-credentials
AKV_RG=${AKV}-rg

# ACI for hosting the deployed application
ACI=hello-world-aci
ACI_RG=${ACI}-rg

#### Airlock: helpers for what the walkthrough does by hand

# Airlock: the walkthrough's `watch -n1 az acr task list-runs ...` until STATUS is seen.
# wait_for_run REGISTRY TASK TRIGGER STATUS: waits (at most $RUN_TIMEOUT s) for the oldest run of
# TASK in REGISTRY not looked at before (manual runs are skipped unless TRIGGER is Manual) to
# end, and fails unless it ended with TRIGGER and STATUS.
SEEN_RUNS=" "
wait_for_run() {
  local registry=$1 task=$2 trigger=$3 status=$4
  local deadline=$((SECONDS + RUN_TIMEOUT)) rows id run_trigger run_status last=""
  echo "Waiting for a '$trigger' run of $task in $registry (airlock acr task list-runs -r $registry -o json)"
  while ((SECONDS < deadline)); do
    rows=$(airlock acr task list-runs -r "$registry" --top 100 -o tsv \
      --query "reverse([?task=='$task'])[].[runId, trigger, status]") || rows=""
    while IFS=$'\t' read -r id run_trigger run_status; do
      [[ -n $id && $SEEN_RUNS != *" $registry/$id "* ]] || continue
      [[ $run_trigger != Manual || $trigger == Manual ]] || continue
      if [[ $run_status != "$last" ]]; then
        echo "  run $id of $task ($run_trigger): $run_status"
        last=$run_status
      fi
      case $run_status in
        Succeeded | Failed | Canceled | Error | Timeout)
          SEEN_RUNS+="$registry/$id "
          if [[ $run_trigger == "$trigger" && $run_status == "$status" ]]; then
            echo "OK: $task ($trigger): $status (run $id)"
            return 0
          fi
          echo "FAILED: run $id of $task was $run_trigger / $run_status, expected $trigger / $status" >&2
          return 1
          ;;
      esac
      break
    done <<<"$rows"
    sleep 1
  done
  echo "FAILED: no '$trigger' run of $task in $registry ended within $RUN_TIMEOUT s" >&2
  return 1
}

# Airlock: fails if TASK of REGISTRY starts a run (other than by hand) within 10 s.
expect_no_run() {
  local registry=$1 task=$2 deadline=$((SECONDS + 10)) rows id run_trigger run_status
  while ((SECONDS < deadline)); do
    rows=$(airlock acr task list-runs -r "$registry" --top 100 -o tsv \
      --query "[?task=='$task'].[runId, trigger, status]") || rows=""
    while IFS=$'\t' read -r id run_trigger run_status; do
      if [[ -n $id && $SEEN_RUNS != *" $registry/$id "* && $run_trigger != Manual ]]; then
        echo "FAILED: $task ran ($run_trigger, run $id: $run_status) although the gate failed" >&2
        return 1
      fi
    done <<<"$rows"
    sleep 1
  done
  echo "OK: $task did not run: it keeps the last validated base image"
}

# Airlock: "In your browser, go to the site": the page, over HTTP, until it shows COLOR (60 s).
# The instance's port 80 may be published on another port (see `portsRemapped`): the page is
# at `airlock container show ... --query url`.
PAGE_COLORS=()
check_page() {
  local expected=$1 url color="" deadline=$((SECONDS + 60))
  url=$(airlock container show --resource-group "$ACI_RG" --name "$ACI" --query url --out tsv)
  while ((SECONDS < deadline)); do
    color=$(curl -s --max-time 3 "$url" |
      sed -n 's/.*id="background-color">[[:space:]]*\([^<[:space:]]*\).*/\1/p') || color=""
    [[ ${color,,} == "${expected,,}" ]] && break
    sleep 0.5
  done
  echo "The page at $url has a ${color:-no} background"
  if [[ ${color,,} != "${expected,,}" ]]; then
    echo "FAILED: the page at $url shows ${color:-nothing}, expected $expected" >&2
    return 1
  fi
  PAGE_COLORS+=("$color")
}

# Airlock: the walkthrough's Dockerfile edit, committed and pushed from the working clone.
set_background_color() {
  local color=$1
  (
    cd "$WORK/base-image-node"
    sed -i "s/^ENV BACKGROUND_COLOR .*/ENV BACKGROUND_COLOR $color/" Dockerfile
    grep -q "^ENV BACKGROUND_COLOR $color\$" Dockerfile
    git commit --quiet -am "BACKGROUND_COLOR $color"
    git push --quiet origin main
  )
  echo "Committed and pushed: ENV BACKGROUND_COLOR $color"
}

#### Git repositories and tokens

section "Git repositories and tokens"
# Airlock: "fork the repos" = local bare git repositories made from examples/ (the samples'
# files), each with a working clone beside it, in $WORK. The server reads them as file://
# contexts; `#main` is the branch, as in the walkthrough.
if [[ -z ${WORK:-} ]]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/airlock-walkthrough.XXXXXX")
elif [[ -e $WORK && -n $(ls -A "$WORK") ]]; then
  echo "walkthrough.sh: WORK=$WORK is not empty; give an empty or new folder" >&2
  exit 2
fi
mkdir -p "$WORK/git"
WORK=$(cd "$WORK" && pwd)
cd "$WORK"  # Airlock: `-f acr-task.yaml` names a file on this machine when there is one here
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-Airlock walkthrough}
export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-walkthrough@localhost}
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}
export GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}
for repository in base-image-node import-baseimage-node hello-world; do
  git init --quiet --bare --initial-branch=main "$WORK/git/$repository.git"
  cp -R "$EXAMPLES/$repository" "$WORK/$repository"
  (
    cd "$WORK/$repository"
    git init --quiet --initial-branch=main
    git add --all
    git commit --quiet -m "$repository: the walkthrough's sample"
    git remote add origin "$WORK/git/$repository.git"
    git push --quiet origin main
  )
done

GIT_BASE_IMAGE_NODE=file://$WORK/git/base-image-node.git#main
GIT_NODE_IMPORT=file://$WORK/git/import-baseimage-node.git#main
GIT_HELLO_WORLD=file://$WORK/git/hello-world.git#main
echo "GIT_BASE_IMAGE_NODE=$GIT_BASE_IMAGE_NODE"
echo "GIT_NODE_IMPORT=$GIT_NODE_IMPORT"
echo "GIT_HELLO_WORLD=$GIT_HELLO_WORLD"

# Airlock: any string; it is kept in the key vault as in the walkthrough, but file:// contexts
# take no token (see "Create public node base image").
GIT_TOKEN=ghp_$(head -c 27 /dev/urandom | base64 | tr -d '/+=')

#### Docker Hub credentials

section "Docker Hub credentials"
# Airlock: no Docker Hub here. The registry `dockerhub` plays it, serving a node:15-alpine
# built from examples/upstream-node and this machine's static busybox; the "Docker Hub token"
# is a pull token of that registry.
airlock group create --name $REGISTRY_DOCKERHUB_RG --location $RESOURCE_GROUP_LOCATION
airlock acr create --resource-group $REGISTRY_DOCKERHUB_RG --name $REGISTRY_DOCKERHUB --sku Premium
REGISTRY_DOCKERHUB_URL=$(airlock acr show -n $REGISTRY_DOCKERHUB --query loginServer -o tsv)
echo "REGISTRY_DOCKERHUB_URL=$REGISTRY_DOCKERHUB_URL"
BUSYBOX=${BUSYBOX:-/bin/busybox}
if [[ ! -f $BUSYBOX ]]; then
  echo "walkthrough.sh: $BUSYBOX is missing; install Debian's busybox-static" >&2
  exit 2
fi
cp -R "$EXAMPLES/upstream-node" "$WORK/upstream-node"
cp "$BUSYBOX" "$WORK/upstream-node/busybox"
airlock acr build -r $REGISTRY_DOCKERHUB --image node:15-alpine "$WORK/upstream-node"

REGISTRY_DOCKERHUB_USER=dockerhub-user
REGISTRY_DOCKERHUB_PASSWORD=$(airlock acr token create \
  --name $REGISTRY_DOCKERHUB_USER \
  --registry $REGISTRY_DOCKERHUB \
  --scope-map _repositories_pull \
  --query 'credentials.passwords[0].value' -o tsv)

#### Create registries

section "Create registries"
airlock group create --name $REGISTRY_PUBLIC_RG --location $RESOURCE_GROUP_LOCATION
airlock acr create --resource-group $REGISTRY_PUBLIC_RG --name $REGISTRY_PUBLIC --sku Premium

airlock group create --name $REGISTRY_BASE_ARTIFACTS_RG --location $RESOURCE_GROUP_LOCATION
airlock acr create --resource-group $REGISTRY_BASE_ARTIFACTS_RG --name $REGISTRY_BASE_ARTIFACTS --sku Premium

airlock group create --name $REGISTRY_RG --location $RESOURCE_GROUP_LOCATION
airlock acr create --resource-group $REGISTRY_RG --name $REGISTRY --sku Premium

# Airlock: the login servers, as the walkthrough's *_URL variables.
REGISTRY_PUBLIC_URL=$(airlock acr show -n $REGISTRY_PUBLIC --query loginServer -o tsv)
REGISTRY_BASE_ARTIFACTS_URL=$(airlock acr show -n $REGISTRY_BASE_ARTIFACTS --query loginServer -o tsv)
REGISTRY_URL=$(airlock acr show -n $REGISTRY --query loginServer -o tsv)
echo "REGISTRY_PUBLIC_URL=$REGISTRY_PUBLIC_URL"
echo "REGISTRY_BASE_ARTIFACTS_URL=$REGISTRY_BASE_ARTIFACTS_URL"
echo "REGISTRY_URL=$REGISTRY_URL"

#### Create key vault and set secrets

section "Create key vault and set secrets"
airlock group create --name $AKV_RG --location $RESOURCE_GROUP_LOCATION
airlock keyvault create --resource-group $AKV_RG --name $AKV

airlock keyvault secret set \
--vault-name $AKV \
--name registry-dockerhub-user \
--value $REGISTRY_DOCKERHUB_USER

airlock keyvault secret set \
--vault-name $AKV \
--name registry-dockerhub-password \
--value $REGISTRY_DOCKERHUB_PASSWORD

airlock keyvault secret set --vault-name $AKV --name github-token --value $GIT_TOKEN

airlock keyvault secret show --vault-name $AKV --name github-token --query value -o tsv

#### Create resource group for an Azure container instance

section "Create resource group for an Azure container instance"
airlock group create --name $ACI_RG --location $RESOURCE_GROUP_LOCATION

#### Create public node base image

section "Create public node base image"
# Airlock: no --git-access-token: it is only for http(s) git contexts, and Airlock refuses it
# for a file:// context (a local repository needs none). With a git server over https, add
# the walkthrough's `--git-access-token $(airlock keyvault secret show ...)` as it is.
airlock acr task create \
  --name node-public \
  -r $REGISTRY_PUBLIC \
  -f acr-task.yaml \
  --context $GIT_BASE_IMAGE_NODE \
  --set REGISTRY_FROM_URL=${REGISTRY_DOCKERHUB_URL}/ \
  --assign-identity

# Airlock: ACR registers a GitHub webhook for the task; here the bare repository's
# post-receive hook calls the task's commit webhook on every push.
airlock acr task hook install -r $REGISTRY_PUBLIC -n node-public --repository "$WORK/git/base-image-node.git"

airlock acr task credential add \
  -n node-public \
  -r $REGISTRY_PUBLIC \
  --login-server $REGISTRY_DOCKERHUB_URL \
  -u https://${AKV}.vault.azure.net/secrets/registry-dockerhub-user \
  -p https://${AKV}.vault.azure.net/secrets/registry-dockerhub-password \
  --use-identity [system]

airlock keyvault set-policy \
  --name $AKV \
  --resource-group $AKV_RG \
  --object-id $(airlock acr task show \
                  --name node-public \
                  --registry $REGISTRY_PUBLIC \
                  --query identity.principalId --output tsv) \
  --secret-permissions get

airlock acr task run -r $REGISTRY_PUBLIC -n node-public

airlock acr repository show-tags -n $REGISTRY_PUBLIC --repository node

#### Create the hello-world image

section "Create the hello-world image: pull token for the simulated public registry"
airlock keyvault secret set \
  --vault-name $AKV \
  --name "registry-${REGISTRY_PUBLIC}-user" \
  --value "registry-${REGISTRY_PUBLIC}-user"

airlock keyvault secret set \
  --vault-name $AKV \
  --name "registry-${REGISTRY_PUBLIC}-password" \
  --value $(airlock acr token create \
              --name "registry-${REGISTRY_PUBLIC}-user" \
              --registry $REGISTRY_PUBLIC \
              --scope-map _repositories_pull \
              -o tsv \
              --query credentials.passwords[0].value)

section "Create the hello-world image: pull token for the container instance"
airlock keyvault secret set \
  --vault-name $AKV \
  --name "registry-${REGISTRY}-user" \
  --value "registry-${REGISTRY}-user"

airlock keyvault secret set \
  --vault-name $AKV \
  --name "registry-${REGISTRY}-password" \
  --value $(airlock acr token create \
              --name "registry-${REGISTRY}-user" \
              --registry $REGISTRY \
              --repository hello-world content/read \
              -o tsv \
              --query credentials.passwords[0].value)

section "Create task to build and maintain the hello-world image"
# Airlock: no --git-access-token (a file:// context; see above).
airlock acr task create \
  -n hello-world \
  -r $REGISTRY \
  -f acr-task.yaml \
  --context $GIT_HELLO_WORLD \
  --set REGISTRY_FROM_URL=${REGISTRY_PUBLIC_URL}/ \
  --set KEYVAULT=$AKV \
  --set ACI=$ACI \
  --set ACI_RG=$ACI_RG \
  --assign-identity

airlock acr task credential add \
  -n hello-world \
  -r $REGISTRY \
  --login-server $REGISTRY_PUBLIC_URL \
  -u https://${AKV}.vault.azure.net/secrets/registry-${REGISTRY_PUBLIC}-user \
  -p https://${AKV}.vault.azure.net/secrets/registry-${REGISTRY_PUBLIC}-password \
  --use-identity [system]

airlock keyvault set-policy \
  --name $AKV \
  --resource-group $AKV_RG \
  --object-id $(airlock acr task show \
                  --name hello-world \
                  --registry $REGISTRY \
                  --query identity.principalId --output tsv) \
  --secret-permissions get

airlock role assignment create \
  --assignee $(airlock acr task show \
  --name hello-world \
  --registry $REGISTRY \
  --query identity.principalId --output tsv) \
  --scope $(airlock group show -n $ACI_RG --query id -o tsv) \
  --role owner

airlock acr task run -r $REGISTRY -n hello-world

airlock container show \
  --resource-group $ACI_RG \
  --name ${ACI} \
  --query ipAddress.ip \
  --out tsv

check_page Blue

#### Update the base image with a "questionable" change

section "Update the base image with a questionable change (Orange)"
set_background_color Orange

wait_for_run $REGISTRY_PUBLIC node-public Commit Succeeded
airlock acr task list-runs -r $REGISTRY_PUBLIC -o table

airlock acr task logs -r $REGISTRY_PUBLIC

wait_for_run $REGISTRY hello-world "Image Update" Succeeded
airlock acr task list-runs -r $REGISTRY -o table

airlock acr task logs -r $REGISTRY

airlock container show \
  --resource-group $ACI_RG \
  --name ${ACI} \
  --query ipAddress.ip \
  --out tsv

check_page Orange

#### Gated imports of public content

section "Create task to import and test base image"
# Airlock: no --git-access-token (a file:// context; see above).
  airlock acr task create \
  --name base-import-node \
  -f acr-task.yaml \
  -r $REGISTRY_BASE_ARTIFACTS \
  --context $GIT_NODE_IMPORT \
  --set REGISTRY_FROM_URL=${REGISTRY_PUBLIC_URL}/ \
  --assign-identity

airlock acr task credential add \
  -n base-import-node \
  -r $REGISTRY_BASE_ARTIFACTS \
  --login-server $REGISTRY_PUBLIC_URL \
  -u https://${AKV}.vault.azure.net/secrets/registry-${REGISTRY_PUBLIC}-user \
  -p https://${AKV}.vault.azure.net/secrets/registry-${REGISTRY_PUBLIC}-password \
  --use-identity [system]

airlock keyvault set-policy \
  --name $AKV \
  --resource-group $AKV_RG \
  --object-id $(airlock acr task show \
                  --name base-import-node \
                  --registry $REGISTRY_BASE_ARTIFACTS \
                  --query identity.principalId --output tsv) \
  --secret-permissions get

airlock acr task run -n base-import-node -r $REGISTRY_BASE_ARTIFACTS

#### Update hello-world image to build from gated node image

section "Update hello-world image to build from gated node image"
airlock keyvault secret set \
  --vault-name $AKV \
  --name "registry-${REGISTRY_BASE_ARTIFACTS}-user" \
  --value "registry-${REGISTRY_BASE_ARTIFACTS}-user"

airlock keyvault secret set \
  --vault-name $AKV \
  --name "registry-${REGISTRY_BASE_ARTIFACTS}-password" \
  --value $(airlock acr token create \
              --name "registry-${REGISTRY_BASE_ARTIFACTS}-user" \
              --registry $REGISTRY_BASE_ARTIFACTS \
              --repository node content/read \
              -o tsv \
              --query credentials.passwords[0].value)

airlock acr task credential add \
  -n hello-world \
  -r $REGISTRY \
  --login-server $REGISTRY_BASE_ARTIFACTS_URL \
  -u https://${AKV}.vault.azure.net/secrets/registry-${REGISTRY_BASE_ARTIFACTS}-user \
  -p https://${AKV}.vault.azure.net/secrets/registry-${REGISTRY_BASE_ARTIFACTS}-password \
  --use-identity [system]

airlock acr task update \
  -n hello-world \
  -r $REGISTRY \
  --set KEYVAULT=$AKV \
  --set REGISTRY_FROM_URL=${REGISTRY_BASE_ARTIFACTS_URL}/ \
  --set ACI=$ACI \
  --set ACI_RG=$ACI_RG

airlock acr task run -r $REGISTRY -n hello-world

# Airlock: the walkthrough does not look here; the page stays Orange (the base image
# base-import-node validated and imported was the Orange one).
check_page Orange

#### Update the base image with a "valid" change

section "Update the base image with a valid change (Green)"
set_background_color Green

wait_for_run $REGISTRY_PUBLIC node-public Commit Succeeded
airlock acr task list-runs -r $REGISTRY_PUBLIC -o table

airlock acr task logs -r $REGISTRY_PUBLIC

wait_for_run $REGISTRY_BASE_ARTIFACTS base-import-node "Image Update" Succeeded
airlock acr task list-runs -r $REGISTRY_BASE_ARTIFACTS -o table

airlock acr task logs -r $REGISTRY_BASE_ARTIFACTS

wait_for_run $REGISTRY hello-world "Image Update" Succeeded
airlock acr task list-runs -r $REGISTRY -o table

airlock acr task logs -r $REGISTRY

airlock container show \
  --resource-group $ACI_RG \
  --name ${ACI} \
  --query ipAddress.ip \
  --out tsv

check_page Green

#### View the gated workflow

section "View the gated workflow (Red)"
set_background_color Red

wait_for_run $REGISTRY_PUBLIC node-public Commit Succeeded
airlock acr task list-runs -r $REGISTRY_PUBLIC -o table

airlock acr task logs -r $REGISTRY_PUBLIC

wait_for_run $REGISTRY_BASE_ARTIFACTS base-import-node "Image Update" Failed
airlock acr task list-runs -r $REGISTRY_BASE_ARTIFACTS -o table

# Airlock: the log is also kept to check that the gate said why it stopped.
GATE_LOG=$(airlock acr task logs -r $REGISTRY_BASE_ARTIFACTS)
printf '%s\n' "$GATE_LOG"
if ! grep -q 'failed to run step ID: validate-base-image: exit status 1' <<<"$GATE_LOG" ||
  ! grep -q 'Invalid Color' <<<"$GATE_LOG"; then
  echo "FAILED: the gate's log does not show the Red image failing validate-base-image" >&2
  exit 1
fi
echo "OK: the gate stopped the Red base image at validate-base-image"

#### Publish an update to hello-world

section "hello-world keeps the last validated node image"
# Airlock: checked: no hello-world run follows, and the page stays Green.
expect_no_run $REGISTRY hello-world
check_page Green

echo
echo "The walkthrough ran to its end; the page went $(IFS=,; echo "${PAGE_COLORS[*]}" | sed 's/,/ -> /g')"

#### Cleaning up

section "Cleaning up"
airlock group delete -n $REGISTRY_RG --no-wait -y
airlock group delete -n $REGISTRY_PUBLIC_RG --no-wait -y
airlock group delete -n $REGISTRY_BASE_ARTIFACTS_RG --no-wait -y
airlock group delete -n $AKV_RG --no-wait -y
airlock group delete -n $ACI_RG --no-wait -y
airlock group delete -n $REGISTRY_DOCKERHUB_RG --no-wait -y  # Airlock: the Docker Hub stand-in
rm -rf "$WORK"  # Airlock: the repositories and their clones
