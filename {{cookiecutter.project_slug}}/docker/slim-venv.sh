#!/bin/sh
# Slim a virtualenv for an image (the Dockerfile's builders run it): the test suites of the
# numeric libraries, a quarter of their size, never run there, and the debug symbols of the
# compiled libraries (`strip --strip-unneeded` keeps what loading them needs) weigh about
# 40 MB. Only these test folders: Evidently imports its own `tests` package at run time.
set -eu
venv=$1
for package in numpy scipy sklearn pandas matplotlib; do
    folder=$(echo "$venv"/lib/python*/site-packages/"$package")
    if [ -d "$folder" ]; then
        find "$folder" -depth -type d -name tests -exec rm -rf {} +
    fi
done
# ONNX Runtime's Python binding holds the whole runtime: its C library for native programs
# (libonnxruntime.so, 35 MB) and its model tools (quantization, transformer optimisation) are
# never loaded by it. Neither are ONNX's own backend test data (15 MB) nor plotly's JupyterLab
# extension (9 MB, for notebooks).
site=$(echo "$venv"/lib/python*/site-packages)
rm -rf "$site"/onnxruntime/capi/libonnxruntime.so* "$site"/onnxruntime/quantization \
    "$site"/onnxruntime/transformers "$site"/onnxruntime/tools "$site"/onnx/backend/test/data \
    "$site"/jupyterlab_plotly
# Not the libraries that wheels vendor in <package>.libs/: auditwheel rewrote them with
# patchelf, and strip makes them unloadable ("ELF load command address/offset not
# page-aligned"). Each library is stripped to a new file that then replaces it: strip
# writes in place, and a virtualenv that uv hard-linked to its cache (its default on one
# disk) shares those files with the cache and every other project of the machine.
find "$venv" -type f -name '*.so*' -not -path '*.libs/*' -exec sh -c '
    for library; do
        strip --strip-unneeded -o "$library.stripped" "$library"
        mv "$library.stripped" "$library"
    done' sh {} +
