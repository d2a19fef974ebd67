# PRÁCTICA TCP 2.1, a client in the handout's style. The handout shows only the server; this
# client is ours, written the way the handout writes its programs (sendall, then one
# recv(1024) taken as the whole answer), to show what that does with a file over 1,024 bytes.
# For "GET <file>" it writes the answer to a new local file named like the requested one
# ("para que el cliente cree un fichero nuevo y escriba en él el contenido").
# Usage: python3 client.py HOST PORT COMMAND...   (one connection for all the commands)
import os
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))

for command in sys.argv[3:]:
    sock.sendall(command.encode())
    data = sock.recv(1024).decode()
    if command[0:3] == "GET" and data != "File not found":
        filename = os.path.basename(command[4:])
        with open(filename, "w") as f:
            f.write(data)
        print("Saved %s (%d bytes)" % (filename, len(data)))
    else:
        print(data)
sock.close()
