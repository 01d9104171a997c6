class File:
    def __init__(self, path):
        self._path = path

    @classmethod
    def new_for_path(cls, path):
        return cls(str(path))

    def get_path(self):
        return self._path
