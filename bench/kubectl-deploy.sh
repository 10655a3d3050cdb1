#!/bin/sh
# The plain alternative to site.yml's deploy that bench/run times in the no-op re-run: apply
# the rendered manifests with kubectl, then wait for each workload, one after the other.
# Usage: bench/kubectl-deploy.sh MANIFESTS.yaml NAMESPACE KIND/NAME... (KUBECONFIG from the
# environment); Jobs are waited for with `kubectl wait`, the rest with `kubectl rollout status`.
set -eu
manifests=$1
namespace=$2
shift 2
kubectl apply -f "$manifests"
for workload in "$@"; do
    case $workload in
        job/*) kubectl wait --namespace "$namespace" --for=condition=complete "$workload" --timeout=600s ;;
        *) kubectl rollout status --namespace "$namespace" "$workload" --timeout=600s ;;
    esac
done
