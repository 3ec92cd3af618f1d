"""`composer watch`: hot reload from `develop.watch` rules.

    rules.py    the rules of the selected services and which changed paths each one takes
    actions.py  sync / rebuild / restart / sync+restart / sync+exec against the running stack
    loop.py     watching the paths (watchfiles), batching bursts, running actions, Ctrl-C
"""
