"""gimpshelf as in GIMP 2.10: values pickled into GIMP's per-session data store by key (here a
dict); deleting writes an empty string, which a later read cannot unpickle."""

import pickle

store = {}


class Shelf:
    def has_key(self, key):
        return key in store

    def __getitem__(self, key):
        return pickle.loads(store[key])

    def __setitem__(self, key, value):
        store[key] = pickle.dumps(value)

    def __delitem__(self, key):
        store[key] = b""


shelf = Shelf()
