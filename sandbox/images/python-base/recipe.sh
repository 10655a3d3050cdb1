# shellcheck shell=bash disable=SC2034,SC2154  # sourced by make-image.sh: it sets and reads these
# The demo app's base image (slipway_app_base_image on the sandbox): Debian's CPython 3.11.
repo=slipway/python-base
suite=bookworm
variant=minbase
# python3-venv brings ensurepip, which the app's Dockerfile uses to install its wheels.
packages=python3,python3-venv
changes=(
	"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	"ENV LANG=C.UTF-8"
	'CMD ["python3"]'
)
