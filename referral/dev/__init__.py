"""Development data: the demo (accounts, directory, one family) and generated data at scale.

Only the command line imports this package (an import contract keeps it so); it writes its
rows through the operations and their row builders, like the app."""
