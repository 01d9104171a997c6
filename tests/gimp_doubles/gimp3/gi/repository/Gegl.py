class Rectangle:
    def __init__(self, x, y, w, h):
        self.x, self.y, self.width, self.height = x, y, w, h

    @classmethod
    def new(cls, x, y, w, h):
        return cls(x, y, w, h)


class AbyssPolicy:
    NONE, CLAMP, LOOP, BLACK, WHITE = range(5)
