# PRÁCTICA TCP 1.1, the server, transcribed from the handout (002_e7c0548db0e94e0c.txt).
# Changes, each marked "# added": the address comes from argv (host port; port 0 lets the OS
# choose) instead of ("127.0.0.1",6780), and once listening, the bound address is printed on
# stderr as our servers do, so that tests can start it on port 0. Run it with python3 -u
# (unbuffered), or its transcript arrives only when it exits.
import socket
import sys

# Creacion objeto socket, de la familia AF_INET, en funcion de la familia del socket,
# son necesarios pasar más parametros o la dirección del servidor en un formato distinto.
# El este caso para la familia AF_INET solo es necesaria la tupla (IP, puerto).
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# Asociación al socket creado anteriormente una dirección y puerto
sock.bind((sys.argv[1], int(sys.argv[2])))  # added: was sock.bind(("127.0.0.1",6780))

# El servidor queda a la escucha de conexiones. El argumento pasado se
# denomina "backlog" y es el máximo número de conexiones en cola permitidas
sock.listen(1)
print("listening on %s:%d (tcp)" % sock.getsockname(), file=sys.stderr)  # added

while True:
    print("Waiting for clients...")
    
    # Al recibirse una conexión al socket, este comando devuelve un objetivo connection utilizado
    # para la recepción y transmisión de información y la dirección del cliente como (IP, puerto)
    conn, client_address = sock.accept()
    
    # Esta instrucción bloquea el código hasta que se reciba una respuesta
    # recv(): Comunicaciones orientadas a conexión, devuelve solo los datos (TCP)
    # recvfrom(): Comunicaciones no orientadas a conexión, devuelve los datos y la dirección del emisor (UDP)
    # El parámetro pasado es el máximo tamaño de paquete en bytes permitido
    data = conn.recv(1024).decode()
    
    if (str(data) == "EXIT"):
        print("Received EXIT Command from client")
        print("Bye")
        
        # Envío de mensaje de despedida a cliente
        conn.sendall("Bye Client".encode())
        
        # Finalización de la conexión
        conn.close()
        break
    else:
        print("Received data from client: " + str(data))
        conn.sendall("Hi TCP Client".encode())
