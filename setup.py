"""The build's one part setup.cfg cannot declare: the AMI reader's compiled steps."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # Not optional: an install without a C compiler fails here, loudly, rather than
        # leaving a reader several times slower (hotline/ami/_speedups.c says what it does).
        Extension("hotline.ami._speedups", ["hotline/ami/_speedups.c"],
                  extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"]),
    ],
)
