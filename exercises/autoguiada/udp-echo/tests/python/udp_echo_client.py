#!/usr/bin/env python3
# udp_echo_client.py: the client of "Práctica Autoguiada - Interfase Sockets API", 1.1
# (003_1e4e04cc1b5c0358.txt), transcribed as the handout prints it. The only change, marked
# "# changed"/"# added": HOST and PORT come from argv (default 'localhost' 3500), so a test
# can point it at a server on a port the OS chose.
# Run: python3 -u udp_echo_client.py [HOST [PORT]]
import socket
import sys  # added

HOST = sys.argv[1] if len(sys.argv) > 1 else 'localhost'  # changed
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3500    # changed
LONG_MENSAJE = 1024
mensaje = 'TyR: Echo sobre UDP'

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(mensaje.encode(), (HOST, PORT))
data = s.recvfrom(LONG_MENSAJE)
s.close()
print ('-->', data[0].decode())
