# PRÁCTICA TCP 2.2, a client in the handout's style. The handout shows only the server; this
# client is ours, written the way the handout writes its programs (sendall, then one
# recv(1024) taken as the whole answer). As the handout's server expects, a PUT is the new
# contents themselves ("El comando PUT se recibiría en el lado del servidor como un string muy
# largo con las modificaciones en el fichero"): the argument "PUT <file>" sends the contents
# of the local <file>, bare.
# Usage: python3 client.py HOST PORT COMMAND...   (one connection for all the commands)
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))

for command in sys.argv[3:]:
    if command[0:4] == "PUT ":
        with open(command[4:]) as f:
            sock.sendall(f.read().encode())
    else:
        sock.sendall(command.encode())
    print(sock.recv(1024).decode())
sock.close()
