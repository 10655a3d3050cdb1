# shellcheck shell=bash disable=SC2034,SC2154  # sourced by make-image.sh: it sets and reads these
# The base of slipway's execution environment where quay.io's CentOS Stream 9 (the definition's
# default) cannot be pulled: Debian bookworm's CPython 3.11, for ansible-builder's generated
# build (ee/build.sh passes it as EE_BASE_IMAGE, with PKGMGR=/usr/bin/apt-get and PYCMD). What
# those steps call, besides coreutils, sed, getent and bash (all in minbase):
#   python3.11: PYPKG, "$PKGMGR install python3.11" finds it installed (no network needed);
#   python3-venv: the venv /opt/venv, and `python3 -m venv` (assemble);
#   git, tar: the definition's system packages, which install-from-bindep then finds installed;
#   ca-certificates: a job's HTTPS (git, pip) to public servers.
# dumb-init, bindep and everything else Python comes from the fetched wheels.
repo=slipway/ee-base
suite=bookworm
variant=minbase
packages=python3,python3-venv,git,ca-certificates
# The EE's Python is the venv /opt/venv (ee/build.sh passes PYCMD=/opt/venv/bin/python3.11):
# Debian's ensurepip, which ansible-builder's pip_install script runs, refuses the system
# python (PEP 668: dpkg owns its packages) and works in a venv. Made without pip: that
# script installs it (from Debian's bundled wheel). First on PATH: ansible, ansible-runner.
changes=(
	"ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	"ENV LANG=C.UTF-8"
	'CMD ["bash"]'
)

customize() {
	chroot "$root" python3 -m venv --without-pip /opt/venv
}
