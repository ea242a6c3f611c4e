"""The Flask-SocketIO extension object, created unbound so any module can import it.

``create_app`` binds it with ``socketio.init_app(app, ...)``; handlers register on it from
``dashboard.events`` (the Flask-SocketIO-Chat layout).
"""

from flask_socketio import SocketIO

socketio = SocketIO()
