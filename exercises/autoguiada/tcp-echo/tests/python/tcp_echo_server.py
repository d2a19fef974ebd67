#!/usr/bin/env python3
# tcp_echo_server.py: the server of "Práctica Autoguiada - Interfase Sockets API", 2.2
# (003_1e4e04cc1b5c0358.txt), transcribed as the handout prints it. The only changes, marked
# "# changed"/"# added", let a test run it on a port the OS chooses:
#   - HOST and PORT come from argv (default '127.0.0.1' 3500);
#   - after bind, PORT is the port actually bound (the OS's choice for port 0), and the
#     address is printed on stderr as our servers print it: `listening on <ip>:<port> (tcp)`.
# Run: python3 -u tcp_echo_server.py [HOST [PORT]]
import socket
import sys  # added

HOST = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'  # changed: IP o Hostname donde escucha
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 3500    # changed: Puerto de escucha
maxpedidos = 5          # Cantidad de pedidos acumulados (backlog)
LONG_MENSAJE = 1024     # Cantidad maxima de bytes a aceptar

# Se crea un socket de tipo Internet (AF_INET) sobre TCP (SOCK_STREAM)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Seteo opcion REUSEADDR del sol_socket
# Ver https://hea-www.harvard.edu/~fine/Tech/addrinuse.html
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

s.bind((HOST, PORT))      # Indicamos al socket la direccion IP y puerto
s.listen(maxpedidos)      # Indicamos el nro max de pedidos que aceptara
PORT = s.getsockname()[1]                                          # added
print('listening on %s:%d (tcp)' % s.getsockname(), file=sys.stderr)  # added
print ('Socket creado, escuchando en %s:%i' % (HOST, PORT))

while True:
    client, address = s.accept()    # Acepta las conexiones
    # Se obtienen los datos desde el socket cliente
    data = client.recv(LONG_MENSAJE)
    print ('Conexion desde: %s:%i' % (address[0], address[1]))
    # Descomentar la siguiente línea para imprimir por consola el mensaje recibido
    # print ('Recibi: %s' % data.decode())
    # Si el cliente envió algún contenido distinto de un string vacío
    if data:
        client.send(data)          # Enviamos el echo al cliente
    client.close()                 # Cerramos el sock cliente
