class Error(Exception):
    def __init__(self, message=None, domain=None, code=0):
        super().__init__(message)
        self.message, self.domain, self.code = message, domain, code

    @classmethod
    def new_literal(cls, domain, message, code):
        return cls(message, domain, code)
