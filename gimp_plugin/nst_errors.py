# -*- coding: utf-8 -*-
"""The one exception the plug-ins' client side raises (Python 2.7 and 3, stdlib only)."""

from __future__ import absolute_import


class EngineError(Exception):
    def __init__(self, code, message, http_status=None):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self):
        return self.message
