"""Built-in backends, each registered through the ``solverlayers`` entry-point group like any third-party plugin."""
