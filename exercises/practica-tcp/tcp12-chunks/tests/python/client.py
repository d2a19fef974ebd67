# PRÁCTICA TCP 1.2, a client in the handout's style. The handout shows only the server; this
# client is ours, written with the server's own rule (recv(20) until a read brings fewer
# than 20 bytes), to show where that rule hangs. It never closes its sending side.
# Usage: python3 client.py HOST PORT MESSAGE...   (one connection per message)
import socket
import sys

MTU = 20
host, port = sys.argv[1], int(sys.argv[2])

for msg in sys.argv[3:]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((host, port))
    sock.sendall(msg.encode())
    while True:
        data = sock.recv(MTU).decode()
        print("Server> " + str(data))
        if len(data) < MTU:
            break
    sock.close()
