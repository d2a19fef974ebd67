# PRÁCTICA TCP 1.1, a client in the handout's style. The handout shows only the server; this
# client is ours, written the way the handout writes its programs (sendall, then one
# recv(1024) taken as the whole answer), to check that our server serves such a client.
# Usage: python3 client.py HOST PORT MESSAGE...   (one connection per message)
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])

for msg in sys.argv[3:]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((host, port))
    sock.sendall(msg.encode())
    data = sock.recv(1024).decode()
    print("Received data from server: " + str(data))
    sock.close()
