#!/usr/bin/env python3
# udp_echo_server.py: the server of "Práctica Autoguiada - Interfase Sockets API", 1.2
# (003_1e4e04cc1b5c0358.txt), transcribed as the handout prints it. The only changes, marked
# "# changed"/"# added", let a test run it on a port the OS chooses:
#   - HOST and PORT come from argv (default 'localhost' 3500);
#   - after bind, PORT is the port actually bound (the OS's choice for port 0), and the
#     address is printed on stderr as our servers print it: `listening on <ip>:<port> (udp)`.
# Run: python3 -u udp_echo_server.py [HOST [PORT]]
import socket
import sys  # added

HOST = sys.argv[1] if len(sys.argv) > 1 else 'localhost'  # changed: IP o Hostname donde escucha
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3500    # changed: Puerto de escucha
LONG_MENSAJE = 1024     # Cantidad maxima de bytes a aceptar

# Se crea un socket de tipo Internet (AF_INET) sobre UDP (SOCK_DGRAM)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((HOST, PORT))    # Indicamos al socket la direccion IP y Port de escucha
PORT = s.getsockname()[1]                                          # added
print('listening on %s:%d (udp)' % s.getsockname(), file=sys.stderr)  # added

print ('Socket creado, escuchando en %s:%i' % (HOST, PORT))

while True:
    # Se obtienen los datos desde el sock cliente
    print ('Esperando clientes...')
    data, address = s.recvfrom(LONG_MENSAJE)
    print ('Conexion desde: %s:%i' % (address[0], address[1]))
    # Descomentar la siguiente línea para imprimir por consola el mensaje recibido
    # print ('Recibi: %s' % data.decode())
    # Si el cliente envió algún contenido distinto de un string vacío
    if data:
        s.sendto(data, address)    # Enviamos el echo al cliente
