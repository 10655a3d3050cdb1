"""slipway's sandbox cluster, one module per layer.

layout: where things live (state folders, ports, addresses); pki: certificates and kubeconfigs;
supervisor: starting, checking and stopping processes; control_plane: etcd, the Kubernetes
control plane, kwok and the Docker engine; network: the bridge and the node's network namespace;
node: the real node (containerd, kubelet, kube-proxy) and its clean-up; addons: cluster DNS, the
Ingress controller and metrics-server; images: images from the Docker engine into the node;
cli: the commands of sandboxctl.py.
"""
