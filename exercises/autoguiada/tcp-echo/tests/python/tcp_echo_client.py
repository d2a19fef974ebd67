#!/usr/bin/env python3
# tcp_echo_client.py: the client of "Práctica Autoguiada - Interfase Sockets API", 2.1
# (003_1e4e04cc1b5c0358.txt), transcribed as the handout prints it. The only change, marked
# "# changed"/"# added": HOST and PORT come from argv (default '127.0.0.1' 3500), so a test
# can point it at a server on a port the OS chose.
# Run: python3 -u tcp_echo_client.py [HOST [PORT]]
import socket
import sys  # added

HOST = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'  # changed: IP del servidor
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3500    # changed: Puerto del servidor
MSG = 'Hola Mundo!'
LONG_MENSAJE = 1024     # Cantidad maxima de bytes a leer del stream

# Se crea un socket de tipo Internet (AF_INET) sobre TCP (SOCK_STREAM)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Nos conectamos al host y puerto del servidor
s.connect((HOST, PORT))
# Enviamos un string
s.sendall(MSG.encode())
# Leemos la respuesta del socket y lo cargamos en la variable 'data'
data = s.recv(LONG_MENSAJE)
# Cerramos el socket contra el server
s.close()
print ('Recibido: ', data.decode())
