"""Templates of Ganzo plugins: one file per kind of component, each a complete
component that works as it stands. Copy one, rename the class and its
registered name, and change what its docstring says to change.

Load your copy before Ganzo parses the options::

    PYTHONPATH=examples GANZO_LOAD_MODULES=templates.loss ganzo --loss my-loss ...

What each kind must offer is in ``ganzo.contracts``.
"""
