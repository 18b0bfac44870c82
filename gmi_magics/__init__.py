"""gmi_magics: talk to GMI Cloud's chat models from IPython and Jupyter."""

__version__ = "0.1.0"
