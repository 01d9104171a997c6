class ParamFlags:
    READABLE, WRITABLE = 1, 2
    READWRITE = 3
